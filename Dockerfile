# pgrest container image.
#
#   docker build -t pgrest .
#   docker run --rm -p 3000:3000 \
#     -e PGRST_DB_URI=postgres://authenticator:secret@db:5432/app \
#     -e PGRST_DB_SCHEMAS=api -e PGRST_DB_ANON_ROLE=web_anon pgrest
#
# Configure with PGRST_* environment variables, or mount a PostgREST-style
# config file and pass its path: `docker run ... pgrest /etc/pgrest/pgrest.conf`.

# --- build: a self-contained binary --------------------------------------------
FROM denoland/deno:2.9.6 AS build
WORKDIR /app
# Dependencies first, so that this layer is reused while only sources change.
COPY deno.json deno.lock ./
RUN deno install --frozen
COPY main.ts ./
COPY src/ ./src/
RUN deno compile --frozen --allow-net --allow-env --allow-read --allow-write \
      --v8-flags=--max-semi-space-size=4 --include src/body_worker.ts \
      --output /pgrest main.ts

# --- runtime: glibc (deno compile targets *-linux-gnu only), no shell ----------
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /pgrest /pgrest
USER nonroot:nonroot
EXPOSE 3000
ENTRYPOINT ["/pgrest"]
