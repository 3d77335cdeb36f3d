# The scheduler image: the release binary on a busybox userland, no base image to pull.
# Built by scripts/build-images.sh, which prepares the context (rootfs/ holds the binary,
# the shared libraries it links, busybox-static for /bin/sh and wget, CA certificates and
# an /etc/passwd with the unprivileged user).
FROM scratch
COPY rootfs/ /
ENV PATH=/usr/local/bin:/bin
# Marathon runs `cmd` through /bin/sh -c; `logstash-mesos` must be on PATH.
ENTRYPOINT ["logstash-mesos"]
CMD ["scheduler"]
# The scheduler needs no privilege: it talks HTTP to the master and serves its API.
USER 65534:65534
WORKDIR /tmp
EXPOSE 8080
# Under Marathon the port is $PORT0 (the package checks it with a MESOS_HTTP health
# check on the same path); standalone it is the default --listen port.
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 \
  CMD wget -q -O /dev/null "http://127.0.0.1:${PORT0:-8080}/v1/health" || exit 1
