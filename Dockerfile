# jabmon component and agent image (node 20). Used by docker-compose.yml.
# Build stage: the TypeScript compiler and type packages are dev dependencies.
FROM node:20-bookworm-slim AS build
WORKDIR /opt/jabmon
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm run build

# Runtime stage: production dependencies, the compiled code, and the files it
# reads at run time (status page assets, the default badness rules).
FROM node:20-bookworm-slim
WORKDIR /opt/jabmon
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund
COPY --from=build /opt/jabmon/dist ./dist
COPY public ./public
COPY rules ./rules
COPY docs ./docs
USER node
ENTRYPOINT ["node", "dist/cli/main.js"]
