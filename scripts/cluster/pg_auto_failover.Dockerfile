# pg_auto_failover for docker-compose.yml's `cluster` profile: Debian 12's packages, the ones scripts/cluster.sh runs.
FROM debian:bookworm-slim
# No "main" cluster of the package's own: pg_autoctl creates the one it runs.
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-common \
    && echo 'create_main_cluster = false' >> /etc/postgresql-common/createcluster.conf \
    && apt-get install -y --no-install-recommends postgresql-15-auto-failover \
    && rm -rf /var/lib/apt/lists/*
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/pgaf
# PostgreSQL and pg_autoctl refuse root; the postgres user's home (/var/lib/postgresql) holds the data and pg_autoctl's
# configuration and state (~/.config, ~/.local/share), so one volume there keeps a node.
USER postgres
WORKDIR /var/lib/postgresql
