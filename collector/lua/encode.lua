-- encodeKeyPart of collector/keys.ts: percent-encodes every byte outside A-Z a-z 0-9 - _ . ! ~ * ' ( ).
-- Prepended to the scripts that derive a rollout's key from an id read out of Redis.
local function encode_key_part(s)
  return (string.gsub(s, "[^A-Za-z0-9%-_%.!~%*'%(%)]", function(c)
    return string.format('%%%02X', string.byte(c))
  end))
end
