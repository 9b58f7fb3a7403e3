/** Precision, recall and F1 of one label. */
export interface LabelMetrics {
  label: string;
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

/** Holdout metrics of a tagger. */
export interface CrfMetrics {
  /** The book's accuracy: correct share of the tokens whose true tag is not `O`. */
  bookAccuracy: number;
  /** Correct tokens among those whose true tag is not `O`. */
  bookCorrect: number;
  /** Tokens whose true tag is not `O`. */
  bookTotal: number;
  /** Correct share of all tokens. */
  tokenAccuracy: number;
  /** Share of sequences tagged entirely right. */
  sequenceAccuracy: number;
  /** Macro-average F1 over labels other than `O` that occur in truth or predictions. */
  macroF1: number;
  /** Per-label metrics, sorted by label. */
  labels: LabelMetrics[];
}

const OUTSIDE = "O";

/**
 * Scores predicted label sequences against the truth.
 * @param predicted one label array per sequence
 * @param truth one label array per sequence, same lengths
 */
export function crfMetrics(predicted: string[][], truth: string[][]): CrfMetrics {
  let tokens = 0;
  let correct = 0;
  let bookTotal = 0;
  let bookCorrect = 0;
  let seqCorrect = 0;
  const tp = new Map<string, number>();
  const predCount = new Map<string, number>();
  const trueCount = new Map<string, number>();
  const inc = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  truth.forEach((t, s) => {
    const p = predicted[s];
    let all = true;
    t.forEach((label, i) => {
      const guess = p[i];
      tokens++;
      inc(trueCount, label);
      inc(predCount, guess);
      if (guess === label) {
        correct++;
        inc(tp, label);
      } else all = false;
      if (label !== OUTSIDE) {
        bookTotal++;
        if (guess === label) bookCorrect++;
      }
    });
    if (all) seqCorrect++;
  });
  const labelNames = [...new Set([...trueCount.keys(), ...predCount.keys()])].sort();
  const labels = labelNames.map((label) => {
    const hit = tp.get(label) ?? 0;
    const np = predCount.get(label) ?? 0;
    const nt = trueCount.get(label) ?? 0;
    const precision = np ? hit / np : 0;
    const recall = nt ? hit / nt : 0;
    const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
    return { label, precision, recall, f1, support: nt };
  });
  const entity = labels.filter((l) => l.label !== OUTSIDE);
  return {
    bookAccuracy: bookTotal ? bookCorrect / bookTotal : 0,
    bookCorrect,
    bookTotal,
    tokenAccuracy: tokens ? correct / tokens : 0,
    sequenceAccuracy: truth.length ? seqCorrect / truth.length : 0,
    macroF1: entity.length ? entity.reduce((a, l) => a + l.f1, 0) / entity.length : 0,
    labels,
  };
}

/** The line the book prints after training (its check_accuracy). */
export function accuracyLine(m: CrfMetrics): string {
  return `accuracy=${m.bookAccuracy.toFixed(4)} (${m.bookCorrect}/${m.bookTotal} non-O tokens correct; token accuracy ${m.tokenAccuracy.toFixed(4)})`;
}
