# jabmon component and agent image (node 20). Used by docker-compose.yml.
FROM node:20-bookworm-slim
WORKDIR /opt/jabmon
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm install --no-save --no-audit --no-fund typescript@5.9.3 @types/node@20 && npx tsc -p . && npm uninstall --no-save typescript @types/node
COPY docs ./docs
ENTRYPOINT ["node", "dist/cli/main.js"]
