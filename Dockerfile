# One image with the three Oxeye binaries: oxeye, oxeye-alertmanager and oxeye-operator.
# The Helm chart (charts/oxeye) runs each with its own `command`. docs/install.md says how to
# build and push it.
#
#   docker build -t ghcr.io/oxeye/oxeye:0.1.0 .

# --- build: the workspace's release profile, with the lock file as committed.
FROM docker.io/library/rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin oxeye --bin oxeye-alertmanager --bin oxeye-operator \
 && mkdir -p /out \
 && cp target/release/oxeye target/release/oxeye-alertmanager target/release/oxeye-operator /out/

# --- run: glibc and nothing else, as a non-root user. TLS roots are compiled in (rustls with
# webpki-roots), so no CA bundle is needed; data lives on the volumes the chart mounts.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/ /usr/local/bin/
USER 65532:65532
WORKDIR /home/nonroot
EXPOSE 9090 9093 8080
ENTRYPOINT ["/usr/local/bin/oxeye"]
