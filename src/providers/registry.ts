/** The configured number providers (src/providers/provider.ts's ProviderSet). */
import type { NumberProvider, ProviderName, ProviderSet } from './provider.js';

export class Providers implements ProviderSet {
  private readonly byName: ReadonlyMap<string, NumberProvider>;

  constructor(
    providers: readonly NumberProvider[],
    readonly offered: readonly ProviderName[],
    readonly defaultName: ProviderName,
  ) {
    this.byName = new Map(providers.map((p) => [p.name, p]));
    for (const name of [...offered, defaultName]) {
      if (!this.byName.has(name)) throw new Error(`provider ${name} is offered but not configured`);
    }
  }

  get(name: string): NumberProvider | undefined {
    return this.byName.get(name);
  }

  all(): readonly NumberProvider[] {
    return [...this.byName.values()];
  }
}
