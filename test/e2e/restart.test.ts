import { beforeAll, describe, expect, it } from "vitest";
import type { RunningComponent } from "../../src/server/index.js";
import { useStack, waitForHost } from "../helpers/stack.js";
import { waitFor } from "../helpers/wait.js";

const stack = useStack("restart");
let component: RunningComponent;

beforeAll(async () => {
  component = await stack.startComponent();
});

describe("an ejabberd restart under a running component and agents", () => {
  it("reconnects both; a surviving agent is online again and one that died meanwhile is marked offline", async () => {
    const url = component.httpUrl as string;
    const survivor = await stack.account("survivor");
    const casualty = await stack.account("casualty");
    stack.spawnAgent(survivor);
    const doomed = stack.spawnAgent(casualty);
    await waitForHost(url, survivor.jid, (h) => h.online === true, 15_000);
    await waitForHost(url, casualty.jid, (h) => h.online === true, 15_000);

    await stack.ejabberd.stop();
    // Anything recorded after this moment came from a new session.
    const restartedAt = Date.now();
    // The component cannot hear an unavailable presence while the server is down.
    doomed.kill("SIGKILL");
    await stack.ejabberd.start();

    await waitFor(() => component.link.isOnline(), {
      timeoutMs: 40_000,
      what: "the component to reconnect",
    });
    // A survivor that reconnects later than the component's presenceConfirmMs
    // is marked offline meanwhile (lastSeen moves too); it must end up online.
    const back = await waitForHost(
      url,
      survivor.jid,
      (h) => h.online === true && Date.parse(String(h.lastSeen)) >= restartedAt,
      40_000,
    );
    expect(back.online).toBe(true);
    const gone = await waitForHost(url, casualty.jid, (h) => h.online === false, 40_000);
    expect(gone.offlineReason).toMatch(/no presence after the component reconnected/);
    const health = await fetch(`${url}/healthz`);
    expect(health.status).toBe(200);
  }, 90_000);

  it("finds an agent that came back while the component itself was down", async () => {
    const account = await stack.account("returner");
    const first = stack.spawnAgent(account);
    await waitForHost(component.httpUrl as string, account.jid, (h) => h.online === true, 15_000);
    first.kill("SIGKILL");
    await waitForHost(component.httpUrl as string, account.jid, (h) => h.online === false, 5000);

    await component.stop();
    // Its presence to the component bounces: nobody is there to record it.
    const second = stack.spawnAgent(account, { JABMON_LOG_LEVEL: "info" });
    await waitFor(() => second.output().includes('"msg":"online"'), {
      timeoutMs: 15_000,
      what: "the agent to log in",
    });

    component = await stack.startComponent();
    const back = await waitForHost(
      component.httpUrl as string,
      account.jid,
      (h) => h.online === true,
      10_000,
    );
    expect(back.state).not.toBe("down");
  }, 60_000);
});
