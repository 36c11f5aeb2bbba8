import { decideGraphFailure, permissionMissing, type GraphAction } from './failures.js';
import type { GraphCallOptions, GraphPort } from './port.js';
import type { GraphSettings } from './settings.js';

/**
 * The app's ID in the organization's app catalog, which Graph installs by: `TEAMS_APP_CATALOG_ID`,
 * or the catalog entry whose `externalId` is the manifest's ID (`TEAMS_APP_ID`), as msteams-docs
 * "Proactively install your bot" ("Get the teamsAppId for your app") and appcatalogs-list-teamsapps.md
 * (example 3) show. A lookup is kept for 10 minutes (a miss for one, so publishing the app is seen soon).
 */

const FOUND_TTL_MS = 10 * 60_000;
const MISSING_TTL_MS = 60_000;

export type CatalogAnswer = { ok: true; id: string } | { ok: false; action: GraphAction };

export class CatalogIds {
  private readonly cache = new Map<string, { answer: CatalogAnswer; until: number }>();

  constructor(
    private readonly graph: GraphPort,
    private readonly settings: Pick<GraphSettings, 'catalogId' | 'manifestId'>,
  ) {}

  async id(tenantId: string, o?: GraphCallOptions): Promise<CatalogAnswer> {
    if (this.settings.catalogId) return { ok: true, id: this.settings.catalogId };
    const cached = this.cache.get(tenantId);
    if (cached && cached.until > Date.now()) return cached.answer;
    const answer = await this.lookUp(tenantId, o);
    const keep = answer.ok ? FOUND_TTL_MS : answer.action.do === 'fail' ? MISSING_TTL_MS : 0;
    if (keep) this.cache.set(tenantId, { answer, until: Date.now() + keep });
    return answer;
  }

  private async lookUp(tenantId: string, o: GraphCallOptions | undefined): Promise<CatalogAnswer> {
    const manifestId = this.settings.manifestId;
    if (!manifestId) {
      return notInCatalog(
        'TEAMS_APP_CATALOG_ID is not set, nor TEAMS_APP_ID (the manifest id) to look it up by',
      );
    }
    const found = await this.graph.findCatalogApp(tenantId, manifestId, o);
    if (found.ok) {
      return found.value
        ? { ok: true, id: found.value }
        : notInCatalog(
            `no app with manifest id ${manifestId} in the organization's app catalog: publish it (docs/deploy.md)`,
          );
    }
    if (found.status === 403) {
      const missing = permissionMissing('findCatalogApp');
      if (missing.do === 'fail') missing.detail += ', or set TEAMS_APP_CATALOG_ID';
      return { ok: false, action: missing };
    }
    return { ok: false, action: decideGraphFailure(found, undefined) };
  }
}

function notInCatalog(detail: string): CatalogAnswer {
  return { ok: false, action: { do: 'fail', reason: 'AppNotInCatalog', detail } };
}
