import type { ReactNode } from 'react';
import { USER_ROLES, type UserRole } from '@/lib/store/types';
import { OptionList } from '../_components/data-table';
import { ActionForm } from './action-form';
import type { SettingsState } from './state';

/** The "New user" / "New token" panel: a titled form of fields in a row, a role to pick, and a create button. */
export function CreatePanel({
  idPrefix,
  title,
  action,
  defaultRole,
  submitLabel,
  children,
}: {
  /** Prefix of the element ids (heading, role select), unique on the page. */
  idPrefix: string;
  title: string;
  action: (state: SettingsState, fd: FormData) => Promise<SettingsState>;
  defaultRole: UserRole;
  submitLabel: string;
  /** The fields before the role. */
  children: ReactNode;
}) {
  return (
    <section className="panel" aria-labelledby={`${idPrefix}-h`}>
      <h2 id={`${idPrefix}-h`}>{title}</h2>
      <ActionForm action={action} className="filters" label={title}>
        {children}
        <div className="field">
          <label htmlFor={`${idPrefix}-role`}>Role</label>
          <select id={`${idPrefix}-role`} name="role" defaultValue={defaultRole}>
            <OptionList values={USER_ROLES} />
          </select>
        </div>
        <div className="filters-actions">
          <button type="submit" className="btn btn-primary btn-sm">
            {submitLabel}
          </button>
        </div>
      </ActionForm>
    </section>
  );
}
