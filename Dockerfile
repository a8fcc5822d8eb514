# syntax=docker/dockerfile:1
# The one custody image: workers (`node dist/workers/main.js`, pools chosen by CUSTODY_POOLS), the API
# (`node dist/api/main.js`) and the `custody` CLI (`node dist/cli/main.js`).
# Build: docker build -t registry.example.org/custody/worker:0.1.0 .
# helm/custody runs it non-root with a read-only root filesystem; ffmpeg writes to an emptyDir at CUSTODY_TMP_DIR.

# --- build: compile TypeScript with every dependency, then drop the dev ones ------------------------------------
FROM node:24-bookworm-slim AS build
WORKDIR /src
# Dependencies first, so a source change does not re-run npm ci.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# --- runtime -----------------------------------------------------------------------------------------------------
FROM node:24-bookworm-slim
# ffmpeg/ffprobe from Debian (CUSTODY_FFMPEG_PATH=/usr/bin/ffmpeg); tini as PID 1 reaps ffmpeg children left
# behind when a transcode is cancelled, and forwards SIGTERM to node only (not -g: a group signal would stop
# running ffmpeg processes before the worker's shutdown grace); ca-certificates for TLS to Temporal and S3.
RUN apt-get update \
  && apt-get install --yes --no-install-recommends ffmpeg tini ca-certificates \
  && rm -rf /var/lib/apt/lists/*
# A fixed numeric user, so Kubernetes can check runAsNonRoot (helm/custody values: runAsUser 10001).
RUN groupadd --system --gid 10001 custody \
  && useradd --system --uid 10001 --gid custody --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin custody
WORKDIR /app
ENV NODE_ENV=production
# Only what runs: compiled code (not bench/, scripts/ or test/), production node_modules and the rule packs.
# Owned by root and not writable by the custody user.
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist/domain ./dist/domain
COPY --from=build /src/dist/activities ./dist/activities
COPY --from=build /src/dist/api ./dist/api
COPY --from=build /src/dist/cli ./dist/cli
COPY --from=build /src/dist/workers ./dist/workers
COPY --from=build /src/dist/workflows ./dist/workflows
COPY policies ./policies
USER 10001:10001
EXPOSE 9464
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/workers/main.js"]
