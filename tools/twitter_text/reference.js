// Export the official counters' rules, and measure texts with them. See README.md.
//   node reference.js sources OUT.json         the regular expressions and config to port
//   node reference.js measure IN.json OUT.json  each text of IN (a JSON list) measured
"use strict";
const fs = require("fs");
const twttr = require("twitter-text");
const rx = (name) => require("twitter-text/dist/regexp/" + name);
const { length } = require("stringz");
const charRegex = require("char-regex");
const emojiRegex = require("twemoji-parser/dist/lib/regex").default;

// Mastodon counts a link as 23 characters when twitter-text's URL grammar takes it for one and it
// starts with http:// or https:// (a bare domain stays text), and a remote mention @user@domain as
// @user. Its web composer applies these to the text and counts stringz symbols; its server, graphemes.
const extractUrl = rx("extractUrl");
const optionalProtocol = "(https?:\\/\\/)?";
if (extractUrl.source.split(optionalProtocol).length !== 2) throw new Error("twitter-text's URL grammar changed");
const mastodonUrl = new RegExp(extractUrl.source.replace(optionalProtocol, "(https?:\\/\\/)"), "gi");
// Start or a character neither "/" nor a word character, "@", the local part, "@", and a domain of
// two characters or more ending with a letter or digit.
const mastodonMention = /(^|[^/\w])@([a-z0-9_]+)@[a-z0-9.-]+[a-z0-9]/gi;
const countableText = (text) =>
  text.replace(mastodonUrl, (match, url, before) => before + "x".repeat(23)).replace(mastodonMention, "$1@$2");
const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });
const graphemes = (text) => [...segmenter.segment(text)].length;

const [command, ...files] = process.argv.slice(2);
if (command === "sources") {
  const source = (re) => ({ source: re.source, flags: re.flags });
  const out = {
    versions: {
      "twitter-text": require("twitter-text/package.json").version,
      "twemoji-parser": require("twemoji-parser/package.json").version,
      stringz: require("stringz/package.json").version,
      "char-regex": require("char-regex/package.json").version,
    },
    config: twttr.configs.defaults,
    x_url: source(rx("extractUrl")),
    x_ascii_domain: source(rx("validAsciiDomain")),
    x_invalid_before_bare_url: source(rx("invalidUrlWithoutProtocolPrecedingChars")),
    x_tco_url: source(rx("validTcoUrl")),
    x_emoji: source(emojiRegex),
    mastodon_url: source(mastodonUrl),
    mastodon_mention: source(mastodonMention),
    stringz_symbol: source(charRegex()),
  };
  fs.writeFileSync(files[0], JSON.stringify(out, null, 1) + "\n");
} else if (command === "measure") {
  const texts = JSON.parse(fs.readFileSync(files[0], "utf8"));
  const out = texts.map((text) => {
    const countable = countableText(text);
    return {
      text,
      x: twttr.parseTweet(text).weightedLength,
      mastodon_web: length(countable),
      mastodon_server: graphemes(countable),
      bluesky: graphemes(text),
    };
  });
  fs.writeFileSync(files[1], JSON.stringify(out, null, 0).replace(/\},\{/g, "},\n{") + "\n");
} else {
  throw new Error("usage: node reference.js sources OUT.json | measure IN.json OUT.json");
}
