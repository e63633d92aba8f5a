module.exports = function () {
  const config = fazt.private.json("config.json");
  return {
    label: config.label,
    ticks: fazt.storage.kv.get("ticks") || 0,
    recent: fazt.storage.kv.get("recent") || [],
  };
};
