/** Text made safe to stand in HTML, in an element or an attribute: a name is never markup. */
export const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
