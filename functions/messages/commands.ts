/** The 1:1 commands and the bot's own words. */

type Command = 'help' | 'stop' | 'start' | 'unknown';

export function parseCommand(text: string): Command {
  const word = text
    .replace(/<at>.*?<\/at>/g, ' ')
    .trim()
    .toLowerCase()
    .replace(/[.!?]+$/, '');
  if (word === 'help' || word === '?') return 'help';
  if (word === 'stop' || word === 'unsubscribe') return 'stop';
  if (word === 'start' || word === 'subscribe') return 'start';
  return 'unknown';
}

const COMMANDS = [
  '**help**: show this list',
  '**stop**: stop sending me notifications',
  '**start**: send me notifications again',
].join('\n\n');

export function welcomeText(name: string | undefined): string {
  return [
    `Hi${name ? ` ${name}` : ''}! I'm **Teams Notifier**. Your organisation's systems use me to send you notifications here, in this chat.`,
    `You can type:\n\n${COMMANDS}`,
  ].join('\n\n');
}

export function commandReply(command: Command): string {
  switch (command) {
    case 'stop':
      return "Done: you won't get notifications from me. Type **start** to turn them back on.";
    case 'start':
      return "Done: you'll get notifications from me again. Type **stop** to turn them off.";
    case 'help':
      return `I deliver notifications from your organisation's systems. You can type:\n\n${COMMANDS}`;
    default:
      return `Sorry, I only understand a few commands:\n\n${COMMANDS}`;
  }
}
