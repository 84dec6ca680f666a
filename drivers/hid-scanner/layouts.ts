/**
 * Keyboard layouts for keyboard-wedge scanners: what the host would type for each HID usage
 * (Keyboard/Keypad page 0x07) at each level. A scanner set to a "keyboard country" sends the usages
 * that give the right characters on a host with that layout, so the gateway must decode with the
 * same layout or the data is silently corrupted.
 *
 * Levels: 0 plain, 1 Shift, 2 AltGr (right Alt), 3 Shift+AltGr. A dead key (written `{ dead: c }`)
 * types nothing by itself; followed by Space it gives `c`.
 */

export type KeyOutput = string | { dead: string } | undefined;
export type KeyDef = readonly [KeyOutput, KeyOutput?, KeyOutput?, KeyOutput?];

export interface KeyboardLayout {
  name: LayoutName;
  keys: ReadonlyMap<number, KeyDef>;
}

export const LAYOUT_NAMES = ['us', 'uk', 'de', 'fr'] as const;
export type LayoutName = (typeof LAYOUT_NAMES)[number];

export const KEY = {
  enter: 0x28,
  escape: 0x29,
  backspace: 0x2a,
  tab: 0x2b,
  space: 0x2c,
  keypadEnter: 0x58,
  errorRollOver: 0x01,
} as const;

/** Modifier bits of a boot keyboard report. */
export const MOD = {
  lctrl: 0x01,
  lshift: 0x02,
  lalt: 0x04,
  lgui: 0x08,
  rctrl: 0x10,
  rshift: 0x20,
  ralt: 0x40,
  rgui: 0x80,
} as const;

const dead = (c: string) => ({ dead: c });

/** Keys every layout shares: letters (overridable), space, keypad. */
function base(keypadDecimal: string): Map<number, KeyDef> {
  const m = new Map<number, KeyDef>();
  for (let i = 0; i < 26; i++) {
    const c = String.fromCharCode(0x61 + i);
    m.set(0x04 + i, [c, c.toUpperCase()]);
  }
  m.set(KEY.space, [' ', ' ']);
  m.set(KEY.escape, ['\x1b']);
  m.set(KEY.backspace, ['\b']);
  const keypad: [number, string][] = [
    [0x54, '/'],
    [0x55, '*'],
    [0x56, '-'],
    [0x57, '+'],
    [0x62, '0'],
    [0x63, keypadDecimal],
    [0x67, '='],
  ];
  for (let i = 1; i <= 9; i++) keypad.push([0x58 + i, String(i)]);
  for (const [u, c] of keypad) m.set(u, [c, c]);
  return m;
}

/** Two-character strings are [plain, shift]; longer definitions use arrays. */
function keys(m: Map<number, KeyDef>, defs: Record<number, string | KeyDef>): Map<number, KeyDef> {
  for (const [u, d] of Object.entries(defs)) {
    m.set(Number(u), typeof d === 'string' ? [d[0], d[1]] : d);
  }
  return m;
}

const US = keys(base('.'), {
  30: '1!',
  31: '2@',
  32: '3#',
  33: '4$',
  34: '5%',
  35: '6^',
  36: '7&',
  37: '8*',
  38: '9(',
  39: '0)',
  45: '-_',
  46: '=+',
  47: '[{',
  48: ']}',
  49: '\\|',
  50: '\\|',
  51: ';:',
  52: '\'"',
  53: '`~',
  54: ',<',
  55: '.>',
  56: '/?',
  100: '\\|',
});

const UK = keys(base('.'), {
  30: '1!',
  31: '2"',
  32: '3£',
  33: ['4', '$', '€'],
  34: '5%',
  35: '6^',
  36: '7&',
  37: '8*',
  38: '9(',
  39: '0)',
  45: '-_',
  46: '=+',
  47: '[{',
  48: ']}',
  49: '#~',
  50: '#~',
  51: ';:',
  52: "'@",
  53: ['`', '¬', '¦'],
  54: ',<',
  55: '.>',
  56: '/?',
  100: '\\|',
});

const DE = keys(base(','), {
  28: 'zZ',
  29: 'yY',
  20: ['q', 'Q', '@'],
  8: ['e', 'E', '€'],
  16: ['m', 'M', 'µ'],
  30: '1!',
  31: ['2', '"', '²'],
  32: ['3', '§', '³'],
  33: '4$',
  34: '5%',
  35: '6&',
  36: ['7', '/', '{'],
  37: ['8', '(', '['],
  38: ['9', ')', ']'],
  39: ['0', '=', '}'],
  45: ['ß', '?', '\\'],
  46: [dead('´'), dead('`')],
  47: 'üÜ',
  48: ['+', '*', '~'],
  49: "#'",
  50: "#'",
  51: 'öÖ',
  52: 'äÄ',
  53: [dead('^'), '°'],
  54: ',;',
  55: '.:',
  56: '-_',
  100: ['<', '>', '|'],
});

const FR = keys(base('.'), {
  4: 'qQ',
  20: 'aA',
  26: 'zZ',
  29: 'wW',
  16: ',?',
  51: 'mM',
  8: ['e', 'E', '€'],
  30: '&1',
  31: ['é', '2', '~'],
  32: ['"', '3', '#'],
  33: ["'", '4', '{'],
  34: ['(', '5', '['],
  35: ['-', '6', '|'],
  36: ['è', '7', '`'],
  37: ['_', '8', '\\'],
  38: ['ç', '9', '^'],
  39: ['à', '0', '@'],
  45: [')', '°', ']'],
  46: ['=', '+', '}'],
  47: [dead('^'), dead('¨')],
  48: ['$', '£', '¤'],
  49: '*µ',
  50: '*µ',
  52: 'ù%',
  53: ['²'],
  54: ';.',
  55: ':/',
  56: '!§',
  100: '<>',
});

export const LAYOUTS: Readonly<Record<LayoutName, KeyboardLayout>> = {
  us: { name: 'us', keys: US },
  uk: { name: 'uk', keys: UK },
  de: { name: 'de', keys: DE },
  fr: { name: 'fr', keys: FR },
};

/**
 * Control characters (Ctrl+key). Letters follow the layout (Ctrl + the key that types "z" gives
 * SUB on every layout); the others go by key position as on a US keyboard, on every layout, as
 * scanners send them: Ctrl + usage 0x2F/0x31/0x30 give ESC/FS/GS, Ctrl+Shift + usage 0x1F/0x23/0x2D
 * give NUL/RS/US. So GS (FNC1 in GS1 data) is always Ctrl + usage 0x30.
 */
export const CONTROL_BY_POSITION: Readonly<Record<string, number>> = {
  '0:47': 0x1b,
  '0:49': 0x1c,
  '0:48': 0x1d,
  '1:31': 0x00,
  '1:35': 0x1e,
  '1:45': 0x1f,
};
