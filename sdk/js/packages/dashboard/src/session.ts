// Who is signed in, in which application, and what their role lets them do there. The server
// refuses anything else (403); the permissions only decide what the dashboard shows.
import { createContext, useContext } from 'react';

export interface User { id: string; email: string; name: string | null }
export interface AppRef { id: string; name: string; role: string | null; environment?: 'test' | 'live' }
export interface Workspace { id: string; name: string; role: string; applications: AppRef[] }
export interface SessionInfo { user: User; csrfToken: string; workspaces: Workspace[] }
export interface Permissions { workspaceRole: string | null; applicationRole: string | null; scopes: string[]; permissions: string[] }

export interface Signed {
  session: SessionInfo;
  workspace: Workspace;
  application: AppRef;
  environment: 'test' | 'live' | null;
  permissions: Permissions;
  switchApplication: (id: string) => void;
  signOut: () => void;
}

export const SessionContext = createContext<Signed | null>(null);

export function useSigned(): Signed {
  const value = useContext(SessionContext);
  if (!value) throw new Error('not signed in');
  return value;
}

/** Whether the role's scopes include `scope` (`*` and `area:*` cover an area). */
export function allows(permissions: Permissions, scope: string): boolean {
  const area = scope.split(':')[0];
  return permissions.scopes.some((s) => s === '*' || s === scope || s === `${area}:*`);
}

export function useCan(): (scope: string) => boolean {
  const { permissions } = useSigned();
  return (scope) => allows(permissions, scope);
}

/** A permission the team service names (e.g. `members:invite`), beside the API scopes. */
export function hasPermission(permissions: Permissions, name: string): boolean {
  return permissions.permissions.includes(name) || permissions.permissions.includes('*');
}
