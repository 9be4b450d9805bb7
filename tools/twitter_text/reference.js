// Export the official counters' rules, and measure texts with them. See README.md.
//   node reference.js sources OUT.json         the regular expressions and config to port
//   node reference.js measure IN.json OUT.json  each text of IN (a JSON list) measured
"use strict";
const fs = require("fs");
const twttr = require("twitter-text");
const regexSupplant = require("twitter-text/dist/lib/regexSupplant");
const rx = (name) => require("twitter-text/dist/regexp/" + name);
const { length } = require("stringz");
const charRegex = require("char-regex");
const emojiRegex = require("twemoji-parser/dist/lib/regex").default;

// Mastodon's web composer (app/javascript/mastodon/features/compose/util/url_regex.js and counter.ts):
// twitter-text's URL grammar with the protocol required, and remote mentions counted by their local part.
const mastodonUrl = regexSupplant(
  "(" +
    "(#{validUrlPrecedingChars})" +
    "(https?:\\/\\/)" +
    "(#{validDomain})" +
    "(?::(#{validPortNumber}))?" +
    "(\\/#{validUrlPath}*)?" +
    "(\\?#{validUrlQueryChars}*#{validUrlQueryEndingChars})?" +
    ")",
  {
    validUrlPrecedingChars: rx("validUrlPrecedingChars"),
    validDomain: rx("validDomain"),
    validPortNumber: rx("validPortNumber"),
    validUrlPath: rx("validUrlPath"),
    validUrlQueryChars: rx("validUrlQueryChars"),
    validUrlQueryEndingChars: rx("validUrlQueryEndingChars"),
  },
  "gi",
);
const mastodonMention = /(^|[^/\w])@(([a-z0-9_]+)@[a-z0-9.-]+[a-z0-9]+)/gi;
const countableText = (text) =>
  text.replace(mastodonUrl, "$2xxxxxxxxxxxxxxxxxxxxxxx").replace(mastodonMention, "$1@$3");
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
