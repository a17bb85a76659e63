/**
 * MQTT 3.1.1 topic filter matching on topics already split into levels [MQTT-4.7]: '+' matches one
 * level, a final '#' the rest (including none: "a/#" matches "a"). Shared by routing (src/log) and the
 * ACL (src/auth), which split once and match many filters; the rules about '$' topics differ between
 * them and stay with each.
 */
export function levelsMatch(filter: readonly string[], topic: readonly string[]): boolean {
  for (let i = 0; i < filter.length; i++) {
    const level = filter[i];
    if (level === '#') return true;
    if (i >= topic.length) return false;
    if (level !== '+' && level !== topic[i]) return false;
  }
  return filter.length === topic.length;
}
