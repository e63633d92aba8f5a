// The items of an RSS feed: title, link and date of the first 20 <item>s.
function field(block, name) {
  const m = new RegExp("<" + name + "\\b[^>]*>([\\s\\S]*?)</" + name + ">").exec(block);
  if (!m) return "";
  return m[1].replace(/^\s*<!\[CDATA\[/, "").replace(/\]\]>\s*$/, "").trim();
}

exports.parse = function (xml) {
  const items = [];
  const re = /<item\b[^>]*>([\s\S]*?)<\/item>/g;
  let m;
  while ((m = re.exec(xml)) !== null && items.length < 20) {
    items.push({ title: field(m[1], "title"), link: field(m[1], "link"), date: field(m[1], "pubDate") });
  }
  return items;
};
