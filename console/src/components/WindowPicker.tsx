import { useSearchParams } from 'react-router';
import { WINDOWS } from '../format';

/** The time window of a page, kept in the URL as `?hours=`, so links keep it. */
export function useWindowHours(fallback = 24): [number, (hours: number) => void] {
  const [params, setParams] = useSearchParams();
  const hours = Number(params.get('hours')) || fallback;
  const set = (next: number) => {
    const p = new URLSearchParams(params);
    p.set('hours', String(next));
    setParams(p, { replace: true });
  };
  return [hours, set];
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
