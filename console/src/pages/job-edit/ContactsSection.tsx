/** The contacts alerted about the job's runs, picked from the contacts API (a link to add one when none). */
import { Link } from 'react-router';
import { useContacts } from '../../api/hooks';
import { QueryView } from '../../components/ui';

export function ContactsSection({
  selected,
  onChange,
  error,
}: {
  selected: string[];
  onChange: (ids: string[]) => void;
  error?: string;
}) {
  const contacts = useContacts();
  const toggle = (id: string, on: boolean) =>
    onChange(on ? [...selected, id] : selected.filter((c) => c !== id));
  return (
    <fieldset>
      <legend>Contacts to alert</legend>
      {error && (
        <span className="field-error wide" role="alert">
          {error}
        </span>
      )}
      <QueryView query={contacts} what="contacts">
        {(page) =>
          page.items.length === 0 ? (
            <p className="muted wide">
              No contacts yet: <Link to="/contacts">add one</Link>, then pick it here.
            </p>
          ) : (
            <div className="checks wide">
              {page.items.map((c) => (
                <label key={c.contactId} className="check">
                  <input
                    type="checkbox"
                    checked={selected.includes(c.contactId)}
                    onChange={(e) => toggle(c.contactId, e.target.checked)}
                  />
                  {c.name} <span className="muted small">{c.email}</span>
                </label>
              ))}
            </div>
          )
        }
      </QueryView>
    </fieldset>
  );
}
