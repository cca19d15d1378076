FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY config config
COPY producers producers
COPY workers workers
COPY sandbox sandbox
COPY cli cli
COPY smsq smsq
RUN pip install --no-cache-dir ".[all]"
USER nobody
ENTRYPOINT ["smsq"]
