/** The error answers of the Teams-like fake connector: the codes and statuses Microsoft documents for Teams bots. */

/** HTTP status of each error code Microsoft documents for Teams bot conversational APIs (plus the generic ones). */
export const TEAMS_ERROR_STATUS = {
  BadArgument: 400,
  Unauthorized: 401,
  ConversationBlockedByUser: 403,
  BotNotInConversationRoster: 403,
  BotDisabledByAdmin: 403,
  ForbiddenOperationException: 403,
  ConversationNotFound: 404,
  MemberNotFoundInConversation: 404,
  ActivityNotFoundInConversation: 404,
  PreconditionFailed: 412,
  MessageSizeTooBig: 413,
  TooManyRequests: 429,
  InternalServerError: 500,
  BadGateway: 502,
  ServiceUnavailable: 503,
  GatewayTimeout: 504,
} as const;
export type TeamsErrorCode = keyof typeof TEAMS_ERROR_STATUS;

export const DEFAULT_CODE: Record<number, TeamsErrorCode> = {
  400: 'BadArgument',
  401: 'Unauthorized',
  403: 'ForbiddenOperationException',
  404: 'ConversationNotFound',
  412: 'PreconditionFailed',
  413: 'MessageSizeTooBig',
  429: 'TooManyRequests',
  500: 'InternalServerError',
  502: 'BadGateway',
  503: 'ServiceUnavailable',
  504: 'GatewayTimeout',
};
export const FORBIDDEN_CODES: TeamsErrorCode[] = [
  'ConversationBlockedByUser',
  'BotNotInConversationRoster',
  'BotDisabledByAdmin',
  'ForbiddenOperationException',
];
export const SERVER_ERRORS = [500, 502, 503, 504];

/** An answer the fake is about to write. */
export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export function errorReply(status: number, code: string, message: string): Reply {
  return { status, body: { error: { code, message } } };
}
