# A small image holding only the cdevents-conformance binary.
#
#   docker build -t cdevents-conformance .
#   docker run --rm --network host cdevents-conformance test listener --target http://127.0.0.1:8080/
#   docker run --rm -v "$PWD:/work" -w /work cdevents-conformance validate events/
#
# The build stage runs ci/install.sh, the same script the GitHub Action runs.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY schemas schemas
COPY suites suites
COPY reports reports
COPY runner runner
COPY fixtures fixtures
COPY ci ci
RUN bash ci/install.sh /out

# distroless/cc has glibc and libgcc, nothing else: no shell, no package manager.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/bin/cdevents-conformance /usr/local/bin/cdevents-conformance
USER nonroot
ENTRYPOINT ["/usr/local/bin/cdevents-conformance"]
CMD ["--help"]
