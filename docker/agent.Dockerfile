# The agent image: the same release binary and userland as the scheduler's. Built by
# scripts/build-images.sh (see scheduler.Dockerfile for what rootfs/ holds).
FROM scratch
COPY rootfs/ /
ENV PATH=/usr/local/bin:/bin
# mimalloc commits its arenas lazily: ~31 MiB resident instead of ~70 MiB on a busy
# pipeline, at the same speed (BENCHMARKS.md, whole process).
ENV MIMALLOC_ARENA_EAGER_COMMIT=0
ENTRYPOINT ["logstash-mesos"]
CMD ["agent"]
# Root on purpose: the agent reads /var/run/docker.sock, which only root and the docker
# group may open, and runs `docker exec` readers through it (docs/security.md says why
# and how to run it as a user of the docker group instead: --user with that group).
USER 0:0
WORKDIR /tmp
# GET /status on the port the scheduler reserved (LOGSTASH_MESOS_AGENT_PORT), else the
# default --status.bind port.
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 \
  CMD wget -q -O /dev/null "http://127.0.0.1:${LOGSTASH_MESOS_AGENT_PORT:-9601}/status" || exit 1
