# syntax=docker/dockerfile:1
# Multi-stage: dependencies are cooked in a layer of their own (cargo-chef), so a
# change to the service's code rebuilds only the service.
ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-slim-bookworm AS chef
RUN cargo install cargo-chef --locked --version ^0.1
WORKDIR /app

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /app/recipe.json recipe.json
RUN cargo chef cook --release --locked --recipe-path recipe.json --bin todo-graphql
COPY . .
RUN cargo build --release --locked --bin todo-graphql

# The binary and CA certificates, nothing else; runs as a non-root user.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /app/target/release/todo-graphql /usr/local/bin/todo-graphql
# No embedded SQLite here: its file would vanish with the machine.
ENV HOST=0.0.0.0 PORT=8080 LOG_FORMAT=json ALLOW_EMBEDDED=false
EXPOSE 8080
USER nonroot
ENTRYPOINT ["/usr/local/bin/todo-graphql"]
CMD ["serve"]
