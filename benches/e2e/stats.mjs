// Small helpers the Node benchmark scripts share: argument lookup and the median.

/** `opt(name, dflt)`: the value after `--name` in `args`, or `dflt`. */
export function argReader(args) {
  return (name, dflt) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : dflt;
  };
}

/** Median of a non-empty list of numbers (mean of the middle two for even lengths). */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
