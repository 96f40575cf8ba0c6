#!/usr/bin/env node
// Installs what jabmon's demo and tests need and is missing, idempotently:
// npm packages, Debian packages (as root), and a Redis to talk to.
// Plain Node with no dependencies: it runs before `npm ci` has.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { connect } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const say = (line) => process.stderr.write(`ensure: ${line}\n`);
const isRoot = process.getuid?.() === 0;

// Debian package → a file it installs. Test-only packages are interop peers and plugins.
const DEBIAN = {
  ejabberd: "/usr/sbin/ejabberdctl",
  "redis-server": "/usr/bin/redis-server",
  "python3-slixmpp": "/usr/lib/python3/dist-packages/slixmpp/__init__.py",
  "monitoring-plugins-basic": "/usr/lib/nagios/plugins/check_load",
  chromium: "/usr/bin/chromium",
};

function ensureNodeModules() {
  if (existsSync(join(root, "node_modules", ".package-lock.json"))) return;
  say("installing npm packages (npm ci)…");
  execFileSync("npm", ["ci", "--no-audit", "--no-fund"], { cwd: root, stdio: "inherit" });
}

function ensureDebianPackages(names) {
  const missing = names.filter((name) => !existsSync(DEBIAN[name]));
  if (missing.length === 0) return;
  if (!isRoot) {
    say(
      `missing Debian packages. Install them as root with:\n  sudo apt-get install -y ${missing.join(" ")}`,
    );
    process.exit(1);
  }
  say(`installing ${missing.join(", ")} with apt…`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  spawnSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
  // ejabberd's post-install tries to start a system service; refused in a container, which is harmless.
  const result = spawnSync("apt-get", ["install", "-y", "-qq", ...missing], {
    stdio: "inherit",
    env,
  });
  const still = missing.filter((name) => !existsSync(DEBIAN[name]));
  if (still.length > 0) {
    say(`apt-get could not install ${still.join(", ")} (exit ${result.status})`);
    process.exit(1);
  }
}

function redisAnswers(host, port) {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(1000);
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (data) => {
      socket.destroy();
      resolve(data.toString().startsWith("+PONG"));
    });
    socket.on("error", () => resolve(false));
    socket.on("timeout", () => {
      socket.destroy();
      resolve(false);
    });
  });
}

async function ensureRedis() {
  if (process.env.JABMON_REDIS_URL) return; // the user chose a Redis; we do not start one
  if (await redisAnswers("127.0.0.1", 6379)) return;
  // Durable by default: AOF with fsync every second (docs/deploy.md says what an
  // acknowledgement then guarantees); JABMON_REDIS_APPENDFSYNC=always for fsync per write.
  const appendfsync = process.env.JABMON_REDIS_APPENDFSYNC ?? "everysec";
  if (!["always", "everysec", "no"].includes(appendfsync)) {
    say(`JABMON_REDIS_APPENDFSYNC must be always, everysec or no, got ${appendfsync}`);
    process.exit(1);
  }
  const dir = join(root, ".redis-data");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  say(`no Redis on 127.0.0.1:6379, starting one (AOF, appendfsync ${appendfsync}, in ${dir})…`);
  execFileSync("redis-server", [
    "--daemonize",
    "yes",
    "--bind",
    "127.0.0.1",
    "--port",
    "6379",
    "--dir",
    dir,
    "--save",
    "",
    "--appendonly",
    "yes",
    "--appendfsync",
    appendfsync,
  ]);
  for (let i = 0; i < 50; i++) {
    if (await redisAnswers("127.0.0.1", 6379)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  say("redis-server did not answer on 127.0.0.1:6379");
  process.exit(1);
}

const forTests = process.argv.includes("--test");
ensureNodeModules();
ensureDebianPackages(forTests ? Object.keys(DEBIAN) : ["ejabberd", "redis-server"]);
await ensureRedis();
