module.exports = function () {
  return fazt.storage.kv.get("items") || { items: [], fetchedAt: null };
};
