# Multi-stage build: compile in the Rust image, run in a slim Debian as a non-root user.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY migrations ./migrations
# The web console's stylesheet, script and vendored htmx, built into the binary.
COPY assets ./assets
RUN cargo build --release --locked --bin tarcza

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/tarcza --create-home tarcza
COPY --from=build /src/target/release/tarcza /usr/local/bin/tarcza
USER tarcza
WORKDIR /var/lib/tarcza
ENV TARCZA_BIND=0.0.0.0:8080
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s \
    CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["/usr/local/bin/tarcza"]
CMD ["serve"]
