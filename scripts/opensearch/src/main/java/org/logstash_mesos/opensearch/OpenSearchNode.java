package org.logstash_mesos.opensearch;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.http.HttpServerTransport;
import org.opensearch.index.mapper.MapperExtrasPlugin;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.painless.PainlessPlugin;
import org.opensearch.plugins.Plugin;
import org.opensearch.transport.Netty4Plugin;

/**
 * Starts one single-node OpenSearch cluster in this JVM with the plugins (modules) from the
 * classpath, as the test framework's MockNode does, without the distribution's layout.
 *
 * <p>Arguments are node settings as {@code key=value}; {@code path.home} is required. The
 * defaults suit tests: loopback, any free HTTP port ({@code http.port=0}), single-node
 * discovery, no disk watermarks, no replicas (so indices are green).
 *
 * <p>Once the node is up, {@code <path.home>/ready.json} is written atomically:
 * {@code {"url":"http://127.0.0.1:PORT","pid":N}}. The node stops when standard input
 * reaches end of file (the test process that started it exited or closed the pipe), so a
 * crashed test never leaves a node behind.
 */
public final class OpenSearchNode {
    private OpenSearchNode() {}

    /** Node's plugin-taking constructor is protected: the test framework subclasses it too. */
    static final class ClasspathNode extends Node {
        ClasspathNode(Environment env, Collection<Class<? extends Plugin>> plugins) {
            super(env, plugins, true);
        }
    }

    static final List<Class<? extends Plugin>> PLUGINS = List.of(
        Netty4Plugin.class,
        MapperExtrasPlugin.class,
        PainlessPlugin.class,
        CommonAnalysisPlugin.class
    );

    public static void main(String[] args) throws Exception {
        Settings.Builder b = Settings.builder()
            .put("cluster.name", "logstash-mesos-test")
            .put("node.name", "lsm-node")
            .put("network.host", "127.0.0.1")
            .put("http.port", "0")
            .put("transport.port", "0")
            .put("discovery.type", "single-node")
            .put("cluster.routing.allocation.disk.threshold_enabled", "false")
            .put("cluster.default_number_of_replicas", "0")
            .put("action.destructive_requires_name", "false")
            .put("node.max_local_storage_nodes", "1");
        for (String a : args) {
            int eq = a.indexOf('=');
            if (eq <= 0) {
                System.err.println("expected key=value, got: " + a);
                System.exit(2);
            }
            b.put(a.substring(0, eq), a.substring(eq + 1));
        }
        Settings settings = b.build();
        String home = settings.get("path.home");
        if (home == null) {
            System.err.println("path.home=... is required");
            System.exit(2);
        }
        Environment env = InternalSettingsPreparer.prepareEnvironment(
            settings, Map.of(), null, () -> settings.get("node.name"));
        Node node = new ClasspathNode(env, PLUGINS);
        node.start();

        HttpServerTransport http = node.injector().getInstance(HttpServerTransport.class);
        InetSocketAddress addr = http.boundAddress().publishAddress().address();
        String json = "{\"url\":\"http://" + addr.getHostString() + ":" + addr.getPort()
            + "\",\"pid\":" + ProcessHandle.current().pid() + "}\n";
        Path ready = Paths.get(home, "ready.json");
        Path tmp = Paths.get(home, "ready.json.tmp");
        Files.write(tmp, json.getBytes(StandardCharsets.UTF_8));
        Files.move(tmp, ready, StandardCopyOption.ATOMIC_MOVE);
        System.out.print(json);
        System.out.flush();

        // Lives until stdin closes.
        InputStream in = System.in;
        byte[] buf = new byte[256];
        try {
            while (in.read(buf) >= 0) {
                // Anything written is ignored; only end of file matters.
            }
        } catch (IOException e) {
            // A broken pipe means the same as end of file.
        }
        try {
            node.close();
        } finally {
            System.exit(0);
        }
    }
}
