/**
 * Per-host parts of a dynamic cluster (control/host-parts.ts), through a real nats-server: the
 * coordinator slices each host's part from a plan; a re-plan that places more experts on a host
 * writes a further part holding just those, and leaves hosts whose part still covers them alone;
 * the host fetches its parts into a directory of its own, which opens as one model (PartSetReader)
 * whose every held tensor reads byte for byte as the whole model's; parts of earlier plans it no
 * longer needs are removed.
 */
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect, type NatsConnection } from "nats";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChecksumCache, fetchFiles, HostParts, manifestRootPath, missingFiles, pruneParts, WeightServer, type NatsServerProcess } from "../../control/index.js";
import type { SlicePlan } from "../../factory/index.js";
import { layerTensorNames, modelTensors, openModel, PartReader, PartSetReader, WeightFileError, type LoadedModel } from "../../model/index.js";
import { MODEL_DIR, tempDir } from "../cluster/helpers.js";
import { NATS_MISSING, natsServer } from "./nats.js";

describe.skipIf(NATS_MISSING !== undefined)("per-host parts of a dynamic cluster", () => {
  const tmp = tempDir("moe-host-parts-");
  let nats: NatsServerProcess;
  let sc: NatsConnection;
  let cc: NatsConnection;
  let server: WeightServer;
  let parts: HostParts;
  let whole: LoadedModel;
  const subject = "t.weights";

  beforeAll(async () => {
    whole = openModel(MODEL_DIR);
    nats = await natsServer();
    sc = await connect({ servers: nats.url });
    cc = await connect({ servers: nats.url });
    server = new WeightServer(sc, subject);
    parts = new HostParts({ modelPath: MODEL_DIR, config: whole.config, dir: join(tmp.dir, "coordinator"), cache: new ChecksumCache(undefined), server, logger: pino({ level: "silent" }) });
  });
  afterAll(async () => {
    whole?.close();
    await server?.close();
    await cc?.close();
    await sc?.close();
    await nats?.stop();
    tmp.cleanup();
  });

  /** Stage and routers on h1; experts 0-3 on h2, 4-7 on `rest` (h3, or h2 after h3 is lost). */
  const plan = (rest: string): SlicePlan => {
    const cfg = whole.config;
    return {
      stages: [{ host: "h1", layers: [0, cfg.nLayers] }],
      experts: Array.from({ length: cfg.nLayers * cfg.nExperts }, (_, k) => ({ layer: Math.floor(k / cfg.nExperts), expert: k % cfg.nExperts, hosts: [k % cfg.nExperts < 4 ? "h2" : rest] })),
    };
  };
  const fetchInto = async (dir: string, m: Parameters<typeof missingFiles>[1]): Promise<number> => {
    const cache = new ChecksumCache(undefined);
    const missing = await missingFiles(dir, m, cache);
    const r = await fetchFiles(cc, dir, m, missing, { subject, cache });
    pruneParts(dir, m);
    return r.bytesReceived;
  };

  it("sends each host its part, then on a re-plan only what a host newly needs; its parts read as the whole model", async () => {
    const cfg = whole.config;
    const first = await parts.manifests(plan("h3"), ["h1", "h2", "h3"], 1);
    expect(first.written.map((w) => w.host)).toEqual(["h1", "h2", "h3"]);
    for (const h of ["h1", "h2", "h3"]) expect(first.manifests[h]!.files.map((f) => f.path)).toEqual([`${h}.v1.gguf`]);
    const h2 = join(tmp.dir, "h2");
    const got1 = await fetchInto(h2, first.manifests.h2!);
    expect(got1).toBe(first.manifests.h2!.files[0]!.size);
    // h3 lost: h2 now serves every expert; h1's part still covers it, so nothing is written for h1
    const second = await parts.manifests(plan("h2"), ["h1", "h2"], 2);
    expect(second.written.map((w) => w.host)).toEqual(["h2"]);
    expect(second.manifests.h1).toEqual(first.manifests.h1);
    expect(second.manifests.h2!.files.map((f) => f.path)).toEqual(["h2.v1.gguf", "h2.v2.gguf"]);
    // a stale part of another run would be opened with the others: it goes
    writeFileSync(join(h2, parts.root, "h2.v9.gguf"), "stale");
    const got2 = await fetchInto(h2, second.manifests.h2!);
    expect(got2).toBe(second.manifests.h2!.files[1]!.size);
    expect(got2).toBeLessThan(got1 * 1.1); // experts 4-7 only: as many rows as the first part's 0-3
    expect(readdirSync(join(h2, parts.root)).sort()).toEqual(["h2.v1.gguf", "h2.v2.gguf"]);
    const delta = openModel(join(h2, parts.root, "h2.v2.gguf"));
    try {
      const r = delta.weights as PartReader;
      expect(r.heldExperts(layerTensorNames(0).gate)).toEqual([4, 5, 6, 7]);
      expect(r.holds(layerTensorNames(0).q)).toBe(false);
    } finally {
      delta.close();
    }
    const m = openModel(manifestRootPath(h2, second.manifests.h2!));
    try {
      expect(m.weights).toBeInstanceOf(PartSetReader);
      expect((m.weights as PartSetReader).host).toBe("h2");
      expect(m.config).toEqual(cfg);
      for (const t of modelTensors(cfg).filter((x) => x.name.includes("_exps")))
        for (let e = 0; e < cfg.nExperts; e++) expect(Buffer.from(m.weights.readRaw(t.name, e).bytes).equals(Buffer.from(whole.weights.readRaw(t.name, e).bytes)), `${t.name}:${e}`).toBe(true);
      expect(() => m.weights.readRaw(layerTensorNames(0).q)).toThrow(WeightFileError);
      expect(() => m.weights.readRaw(layerTensorNames(0).q)).toThrow(/no part for host 'h2' holds 'blk\.0\.attn_q\.weight'/);
    } finally {
      m.close();
    }
    // a manifest of whole files (not parts) never removes anything
    expect(pruneParts(h2, { ...second.manifests.h2!, parts: false, files: [] })).toEqual([]);
    expect(existsSync(join(h2, parts.root, "h2.v1.gguf"))).toBe(true);
  });
});
