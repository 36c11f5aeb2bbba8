/**
 * Install marks: the app writes one before it installs itself for a user through Microsoft Graph
 * (shared/graph/reach.ts), so the installation activity Teams then sends the bot is known for
 * ours: the bot stores the user from it without a roster call and without a welcome, since the
 * notification that caused the install is their first message (docs/graph.md). The mark also keeps
 * the chat once Graph named it, so a retry need not ask again. Adapter:
 * azureStorage/tableInstallMarks.ts (rows `install|<aadObjectId>` of the Conversations table).
 */
export interface InstallMark {
  aadObjectId: string;
  upn?: string | undefined;
  name?: string | undefined;
  /** When the app installed (or was about to install) itself for the user. */
  at: string;
  /** The 1:1 chat Graph named for the installation. */
  chatId?: string | undefined;
}

export interface InstallMarks {
  get(tenantId: string, aadObjectId: string): Promise<InstallMark | undefined>;
  /** Creates or updates the mark; fields left undefined keep what is stored. */
  put(tenantId: string, mark: InstallMark): Promise<void>;
}

/** A mark younger than this says the install was ours: Teams sends the activity within moments. */
export const MARK_TTL_MS = 7 * 24 * 3600 * 1000;

export const isFreshMark = (mark: InstallMark | undefined, now = Date.now()): mark is InstallMark =>
  !!mark && now - Date.parse(mark.at) < MARK_TTL_MS;
