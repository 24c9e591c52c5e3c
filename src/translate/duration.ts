/** durationMs converts a protobuf JSON duration (`15s`, `0.25s`) to milliseconds. */
export function durationMs(d: string | undefined): number | undefined {
  if (d === undefined) return undefined;
  const m = /^([0-9]+(?:\.[0-9]+)?)s$/.exec(d);
  return m ? Math.round(Number(m[1]) * 1000) : undefined;
}
