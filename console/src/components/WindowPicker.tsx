import { useSearchParams } from 'react-router';
import { WINDOWS } from '../format';

/**
 * A page's filters kept in the URL's query, so a filtered view can be shared and survives a reload.
 * `set` changes some of them at once; empty values are removed.
 */
export function useUrlFilters(): [
  URLSearchParams,
  (changes: Readonly<Record<string, string | number>>) => void,
] {
  const [params, setParams] = useSearchParams();
  const set = (changes: Readonly<Record<string, string | number>>) =>
    setParams(
      (previous) => {
        const next = new URLSearchParams(previous);
        for (const [name, value] of Object.entries(changes)) {
          const text = String(value).trim();
          if (text) next.set(name, text);
          else next.delete(name);
        }
        return next;
      },
      { replace: true },
    );
  return [params, set];
}

/** The time window of a page, kept in the URL as `?hours=`, so links keep it. */
export function useWindowHours(fallback = 24): [number, (hours: number) => void] {
  const [params, set] = useUrlFilters();
  return [Number(params.get('hours')) || fallback, (hours) => set({ hours })];
}

export function WindowPicker({ hours, onChange }: { hours: number; onChange: (hours: number) => void }) {
  return (
    <label className="window-picker">
      Window
      <select value={hours} onChange={(e) => onChange(Number(e.target.value))}>
        {WINDOWS.map((w) => (
          <option key={w.hours} value={w.hours}>
            {w.label}
          </option>
        ))}
      </select>
    </label>
  );
}
