# One image for the dashboard and the nodes (both need dispy and psutil).
# Stage 1 builds the dashboard's frontend; stage 2 is Python only.
FROM node:20-bookworm-slim AS frontend
WORKDIR /src
COPY package.json package-lock.json ./
COPY frontend/package.json frontend/package.json
COPY e2e/package.json e2e/package.json
RUN npm ci --no-audit --no-fund -w frontend
COPY frontend frontend
RUN npm run build -w frontend

FROM python:3.11-slim-bookworm
WORKDIR /app
# the runtime lock: requirements.lock also holds the test tools, which have no place in the image
COPY requirements-runtime.lock pyproject.toml README.md ./
RUN pip install --no-cache-dir -r requirements-runtime.lock
COPY backend backend
COPY --from=frontend /src/backend/dispymon/static backend/dispymon/static
RUN pip install --no-cache-dir --no-deps .
COPY examples/compose_app.py /app/compose_app.py
EXPOSE 8181
CMD ["dispymon", "serve", "--cluster-module", "/app/compose_app.py", "--host", "0.0.0.0"]
