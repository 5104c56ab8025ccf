# The operator's `mlconnector` command, for `docker compose run --rm cli ...` (the `tools`
# profile of docker-compose.yml). Build from the repository root: docker build .
FROM python:3.11-slim
RUN pip install --no-cache-dir uv
WORKDIR /app
COPY . .
RUN uv sync --frozen --no-dev --package ml-connector
ENV PATH="/app/.venv/bin:$PATH"
USER nobody
ENTRYPOINT ["mlconnector"]
CMD ["--help"]
