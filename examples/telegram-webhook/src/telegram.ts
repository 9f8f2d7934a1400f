/**
 * @module telegram
 * The few Telegram Bot API shapes this example reads, and where an update names its chat.
 */

/** A chat, as the Bot API sends it. Group and channel ids are negative. */
export interface Chat {
  id: number;
  type?: 'private' | 'group' | 'supergroup' | 'channel';
  title?: string;
}

/** A message (also an edited message, a channel post…). */
export interface Message {
  message_id: number;
  chat: Chat;
  text?: string;
}

/** An incoming update: exactly one of the optional fields is set. */
export interface Update {
  update_id: number;
  message?: Message;
  edited_message?: Message;
  channel_post?: Message;
  edited_channel_post?: Message;
  business_message?: Message;
  edited_business_message?: Message;
  callback_query?: { id: string; data?: string; message?: Message };
  inline_query?: { id: string; query: string };
  my_chat_member?: { chat: Chat };
  chat_member?: { chat: Chat };
  chat_join_request?: { chat: Chat };
  message_reaction?: { chat: Chat };
  message_reaction_count?: { chat: Chat };
  chat_boost?: { chat: Chat };
  removed_chat_boost?: { chat: Chat };
  poll?: { id: string };
  poll_answer?: { poll_id: string };
}

/** The chat an update belongs to, or `undefined` (inline queries, polls, payments…). */
export function chatOf(update: Update): Chat | undefined {
  const message =
    update.message ??
    update.edited_message ??
    update.channel_post ??
    update.edited_channel_post ??
    update.business_message ??
    update.edited_business_message ??
    update.callback_query?.message;
  if (message) return message.chat;
  const member =
    update.my_chat_member ??
    update.chat_member ??
    update.chat_join_request ??
    update.message_reaction ??
    update.message_reaction_count ??
    update.chat_boost ??
    update.removed_chat_boost;
  return member?.chat;
}

/** Groups and supergroups; a chat without a `type` counts as a group when its id is negative. */
export function isGroup(chat: Chat): boolean {
  if (chat.type !== undefined) return chat.type === 'group' || chat.type === 'supergroup';
  return chat.id < 0;
}
