// The time zone times are shown in: the browser's, UTC or any IANA zone the browser knows.
import { useMemo } from "preact/hooks";
import { BROWSER, browserZone, zoneNames } from "../lib/timezone";

export function ZonePicker({ value, onChange }: { value: string; onChange: (z: string) => void }) {
  const zones = useMemo(zoneNames, []);
  // The same vnodes every render, so the ~430 options are not diffed on each poll of a search.
  const options = useMemo(
    () =>
      zones.map((z) => (
        <option key={z} value={z}>
          {z}
        </option>
      )),
    [zones],
  );
  const known = value === BROWSER || zones.includes(value);
  return (
    <label class="zone-picker inline-label">
      <span class="sr-only">Time zone</span>
      <select data-testid="timezone" title="Time zone of the times shown" value={value} onChange={(e) => onChange((e.target as HTMLSelectElement).value)}>
        <option value={BROWSER}>Browser ({browserZone()})</option>
        {!known && <option value={value}>{value}</option>}
        {options}
      </select>
    </label>
  );
}
