// Cloudflare Workers entry, bundled with esbuild and run by workerd (Miniflare). The default
// key there is the cf-connecting-ip header.
import { createApp } from './app.mjs';

const app = createApp();

export default { fetch: app.fetch };
