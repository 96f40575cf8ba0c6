#!/usr/bin/env node
// Makes the secrets docker-compose.yml needs, once, into docker/secrets/ (git-ignored):
// a random component secret (as ejabberd's include file and for the component),
// a random agent password and status-page password, and a self-signed
// certificate for the XMPP domain (ejabberd's PEM, and the CA file agents trust).
// Nothing shipped holds a usable secret: compose refuses to start until this ran.
// Then: docker compose --env-file docker/secrets/.env up
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const dir = join(dirname(fileURLToPath(import.meta.url)), "..", "docker", "secrets");
const domain = process.env.JABMON_DOMAIN ?? "localhost";
if (existsSync(join(dir, ".env"))) {
  process.stderr.write(`${dir} already holds secrets; delete it to make new ones\n`);
  process.exit(0);
}
mkdirSync(dir, { recursive: true, mode: 0o700 });
const secret = randomBytes(24).toString("hex");
const key = join(dir, "key.pem");
const cert = join(dir, "ca.pem");
execFileSync(
  "openssl",
  [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    key,
    "-out",
    cert,
    "-days",
    "825",
    "-subj",
    `/CN=${domain}`,
    "-addext",
    `subjectAltName=DNS:${domain},DNS:*.${domain}`,
  ],
  { stdio: ["ignore", "ignore", "inherit"] },
);
// Read by the ejabberd container's own user (uid 9000), hence not 0600.
writeFileSync(
  join(dir, "ejabberd.pem"),
  `${readFileSync(key, "utf8")}\n${readFileSync(cert, "utf8")}`,
  { mode: 0o644 },
);
writeFileSync(
  join(dir, "jabmon-secret.yml"),
  `define_macro:\n  JABMON_COMPONENT_SECRET: "${secret}"\n`,
  { mode: 0o644 },
);
writeFileSync(
  join(dir, ".env"),
  [
    `JABMON_COMPONENT_SECRET=${secret}`,
    `JABMON_AGENT1_PASSWORD=${randomBytes(18).toString("hex")}`,
    `JABMON_STATUS_BASIC=admin:${randomBytes(12).toString("hex")}`,
    "",
  ].join("\n"),
  { mode: 0o600 },
);
process.stdout.write(
  `secrets written to ${dir}\nnext: docker compose --env-file docker/secrets/.env up\n`,
);
