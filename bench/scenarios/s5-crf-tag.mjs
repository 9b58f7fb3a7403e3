// Scenario 5: CRF tagging throughput: CrfService/TagStream (100 sentences per message), on one
// stream and on two at once (the sentences split between them: the server tags them on two
// threads, one CRFsuite tagger each), vs the python-crfsuite Tagger in-process on one core,
// same model file (scenario 4's), same sentences.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { core, DATA, clients, importModel, startServerProcess, runPython, pythonBin, summary, fmt, bidi } from "../lib.mjs";

export default async function s5(ctx) {
  let modelFile = ctx.crfModelFile,
    seqs = ctx.crfSequences;
  if (!modelFile) {
    const file = path.join(DATA, ctx.quick ? "book/ner.csv" : "gmb/ner_large.csv");
    seqs = (await core.readNerCsv(file, core.CRF_PRESETS.book.template, true)).sequences;
    const t = await core.trainCrf(seqs, { algorithm: "lbfgs", params: { max_iterations: ctx.quick ? 10 : 100 } });
    modelFile = path.join(ctx.work, "s5.crfsuite");
    writeFileSync(modelFile, t.model);
  }
  const items = seqs.map((s) => s.items);
  const passes = ctx.quick ? 1 : 3;
  const tokens = items.reduce((a, s) => a + s.length, 0) * passes;
  const seqFile = path.join(ctx.work, "tag-seqs.json");
  writeFileSync(seqFile, JSON.stringify(items));
  // The packed form (CrfPackedSequences: NUL-terminated names, weights, counts, lengths) a
  // performance-aware client uses; weights are sent because the book's features weigh
  // next-lemma 0.5. core.packSequences builds exactly the API's fields.
  const packedMsg = (batch) => {
    const p = core.packSequences(batch);
    return {
      attributeNames: Buffer.from(p.attributeNames),
      attributeWeights: p.attributeWeights ?? [],
      itemAttributeCounts: p.itemAttributeCounts,
      sequenceLengths: p.sequenceLengths,
    };
  };
  const msgs = [];
  for (let p = 0; p < passes; p++)
    for (let i = 0; i < items.length; i += 100)
      msgs.push({ modelName: "ner", packed: packedMsg(items.slice(i, i + 100)), includeProbability: false, includeMarginals: false });
  const srv = await startServerProcess({ env: ctx.serverEnv ?? {} });
  const cl = clients(srv.address);
  // mlbridge and python-crfsuite take turns, one repeat each, so that load from elsewhere on the
  // machine weighs on both alike (the ratio is of medians measured side by side).
  const ours = [],
    ours2 = [],
    theirs = [];
  const half = Math.ceil(msgs.length / 2);
  const python = pythonBin(); // checked once: each check starts a Python process
  try {
    await importModel(cl, "ner", 1, readFileSync(modelFile));
    await bidi(cl.crf.tagStream(), msgs.slice(0, 5));
    for (let i = 0; i < ctx.repeats; i++) {
      const t0 = performance.now();
      const out = await bidi(cl.crf.tagStream(), msgs);
      const got = out.reduce((a, r) => a + r.packed.labelIndices.length, 0);
      if (got !== tokens) throw new Error(`tagged ${got} of ${tokens} tokens`);
      ours.push(tokens / ((performance.now() - t0) / 1000));
      const t1 = performance.now();
      const two = await Promise.all([bidi(cl.crf.tagStream(), msgs.slice(0, half)), bidi(cl.crf.tagStream(), msgs.slice(half))]);
      const got2 = two.flat().reduce((a, r) => a + r.packed.labelIndices.length, 0);
      if (got2 !== tokens) throw new Error(`tagged ${got2} of ${tokens} tokens on two streams`);
      ours2.push(tokens / ((performance.now() - t1) / 1000));
      if (python) {
        const py = await runPython("peers.py", { cmd: "crf_tag", sequences: seqFile, model: modelFile, passes, repeats: 1 });
        theirs.push(py.tokens / py.seconds[0]);
      }
    }
  } finally {
    cl.close();
    await srv.stop();
  }
  const results = { "mlbridge TagStream": { tokens_per_s: summary(ours) }, "mlbridge TagStream x2 streams": { tokens_per_s: summary(ours2) } };
  const ratios = [],
    notes = [
      `${items.length} sentences × ${passes} passes = ${tokens} tokens; 100 sentences per message; sequences in the packed form (CrfPackedSequences: one names buffer and three number lists per message; results as label indices); time includes client-side protobuf encoding and decoding (the message objects are built beforehand, as python-crfsuite's item dicts are)`,
    ];
  if (theirs.length) {
    results["python-crfsuite Tagger in-process"] = { tokens_per_s: summary(theirs) };
    ratios.push({
      name: "crf tag: mlbridge TagStream / python-crfsuite (tokens/s)",
      value: summary(ours).median / summary(theirs).median,
      goal: 0.5,
      op: ">=",
    });
    ratios.push({
      name: "crf tag: mlbridge 2 TagStreams at once / python-crfsuite on one core (tokens/s)",
      value: summary(ours2).median / summary(theirs).median,
      goal: 1.2,
      op: ">=",
    });
    notes.push(
      "mlbridge (one stream, then two) and python-crfsuite run in turns, one repeat each; the client (this process) encodes and decodes on its own core share: on 2 cores, the client, the server's event loop and its two tagging threads share the machine",
    );
  } else notes.push("python-crfsuite skipped: no venv");
  for (const [k, v] of Object.entries(results)) ctx.log(`  s5 ${k}: ${fmt(v.tokens_per_s.median, 0)} tokens/s (±${fmt(v.tokens_per_s.spreadPct, 1)}%)`);
  return { results, ratios, notes };
}
