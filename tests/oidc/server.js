// A real OpenID Connect provider (panva/oidc-provider, certified) for fazt's sign-in
// tests, on 127.0.0.1 only. Started by tests/oidc_node.py with:
//   PORT: the port; CLIENTS: JSON [{client_id, client_secret, redirect_uris, alg}].
// Sign-in uses the package's dev interactions: a login form (any login name; the password
// is not checked) and a consent form. Every account's claims are derived from its login.
import crypto from "node:crypto";
import Provider from "oidc-provider";

const port = Number(process.env.PORT);
const clients = JSON.parse(process.env.CLIENTS).map((c) => ({
  client_id: c.client_id,
  client_secret: c.client_secret,
  redirect_uris: c.redirect_uris,
  grant_types: ["authorization_code"],
  response_types: ["code"],
  token_endpoint_auth_method: "client_secret_post",
  id_token_signed_response_alg: c.alg || "RS256",
}));
const rsa = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
const ec = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
const keys = [
  { ...rsa.export({ format: "jwk" }), kid: "rsa-1", use: "sig", alg: "RS256" },
  { ...ec.export({ format: "jwk" }), kid: "ec-1", use: "sig", alg: "ES256" },
];

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients,
  jwks: { keys },
  pkce: { required: () => true, methods: ["S256"] },
  conformIdTokenClaims: false, // email and name in the ID token itself
  claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name", "picture"] },
  features: { devInteractions: { enabled: true } },
  cookies: { keys: [crypto.randomBytes(32).toString("hex")] },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          email: `${id}@example.test`,
          email_verified: true,
          name: id.charAt(0).toUpperCase() + id.slice(1),
          picture: `http://127.0.0.1:${port}/avatar/${id}.png`,
        };
      },
    };
  },
});
provider.proxy = false;
provider.listen(port, "127.0.0.1", () => console.log(`ready ${port}`));
