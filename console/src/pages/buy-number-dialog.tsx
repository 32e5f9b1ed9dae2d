/**
 * Get Phone Number: search the provider's inventory and buy. A purchase sends an
 * Idempotency-Key that stays the same for a number while the dialog is open, so
 * a double click, a retry after a network error or a second tab never buys twice.
 */
import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { ApiError, newIdempotencyKey } from '../api/client';
import {
  COUNTRIES,
  type AvailableNumber,
  type CountryCode,
  type NumberType,
  type PhoneNumber,
  type Provider,
  type SearchFilterName,
  type SearchFilters,
} from '../api/types';
import { Modal } from '../components/modal';
import { EmptyState, ErrorNotice, InfoNotice, Spinner, SuccessNotice } from '../components/notices';
import { useApp, useTeam } from '../context';
import { countryName, humanNumber, money, place, providerLabel } from '../format';
import { Link } from '../shell';

const TYPE_LABELS: Record<NumberType, string> = { local: 'Local Number (Geographic)', 'toll-free': 'Toll-Free' };

/** tollFree and toll_free are the same type (api.md). */
const normType = (t: string): NumberType | null => (t === 'local' ? 'local' : ['toll-free', 'tollFree', 'toll_free'].includes(t) ? 'toll-free' : null);

type ProvidersState = { state: 'loading' } | { state: 'none' } | { state: 'ready'; providers: Provider[] };

export function BuyNumberDialog({ open, onClose, onPurchased }: { open: boolean; onClose: () => void; onPurchased: (n: PhoneNumber) => void }) {
  return (
    <Modal open={open} title="Get Phone Number" onClose={onClose} className="wide">
      {open && <BuyNumberForm onPurchased={onPurchased} onClose={onClose} />}
    </Modal>
  );
}

function BuyNumberForm({ onPurchased, onClose }: { onPurchased: (n: PhoneNumber) => void; onClose: () => void }) {
  const { client, admin } = useApp();
  const team = useTeam();
  const ids = { provider: useId(), country: useId(), area: useId(), state: useId(), city: useId(), prefix: useId(), areaHelp: useId(), prefixHelp: useId() };

  const [providers, setProviders] = useState<ProvidersState>({ state: 'loading' });
  const [providerName, setProviderName] = useState('');
  const [numberType, setNumberType] = useState<NumberType>('local');
  const [country, setCountry] = useState<CountryCode>('US');
  const [areaCode, setAreaCode] = useState('');
  const [region, setRegion] = useState('');
  const [city, setCity] = useState('');
  const [prefix, setPrefix] = useState('');
  const [fieldError, setFieldError] = useState<{ field: 'area' | 'prefix'; message: string } | null>(null);

  const [searching, setSearching] = useState(false);
  const [searchError, setSearchError] = useState<unknown>(null);
  const [results, setResults] = useState<AvailableNumber[] | null>(null);

  const [buying, setBuying] = useState<ReadonlySet<string>>(new Set());
  const [buyError, setBuyError] = useState<{ number: string; error: unknown } | null>(null);
  const [bought, setBought] = useState<PhoneNumber | null>(null);
  const keys = useRef(new Map<string, string>());
  const inFlight = useRef(new Set<string>());
  const resultsHeading = useRef<HTMLHeadingElement>(null);
  const boughtNotice = useRef<HTMLDivElement>(null);

  // GET /api/providers; a gateway without it has one provider, the simulated carrier.
  useEffect(() => {
    let live = true;
    client.listProviders().then(
      ({ providers: list }) => {
        if (!live) return;
        if (!list?.length) return setProviders({ state: 'none' });
        setProviders({ state: 'ready', providers: list });
        setProviderName((list.find((p) => p.default) ?? list[0]!).name);
      },
      () => live && setProviders({ state: 'none' }),
    );
    return () => {
      live = false;
    };
  }, [client]);

  const provider = providers.state === 'ready' ? providers.providers.find((p) => p.name === providerName) : undefined;
  const countries: readonly CountryCode[] = provider?.countries.length ? provider.countries : COUNTRIES;
  const types = provider
    ? [...new Set(provider.numberTypes.map(normType).filter((t): t is NumberType => t !== null))]
    : (['local', 'toll-free'] as NumberType[]);
  // The filters the provider honours for this number type (GET /api/providers); the gateway refuses the others.
  // Without the providers' list (it failed to load), every filter is offered and the gateway says which do not apply.
  const supports = (f: SearchFilterName) => !provider || provider.filters[numberType].includes(f);
  const local = numberType === 'local';
  const area = AREA_CODES[country] ?? AREA_CODES.US!;

  useEffect(() => {
    if (!countries.includes(country)) setCountry(countries[0] ?? 'US');
    if (types.length && !types.includes(numberType)) setNumberType(types[0]!);
  }, [countries, types, country, numberType]);

  const search = async (e?: FormEvent) => {
    e?.preventDefault();
    setFieldError(null);
    if (local && areaCode && !area.pattern.test(areaCode)) return setFieldError({ field: 'area', message: area.message });
    if (!local && prefix && !/^\d{3}$/.test(prefix)) return setFieldError({ field: 'prefix', message: 'A toll-free prefix is 3 digits, e.g. 800 or 888.' });
    // Fields that do not apply to the chosen type are not sent (they are hidden, not ignored).
    const filters: SearchFilters = { countryCode: country, numberType, limit: 20 };
    if (local) {
      if (areaCode && supports('areaCode')) filters.areaCode = areaCode;
      if (region.trim() && supports('state')) filters.state = region.trim();
      if (city.trim() && supports('city')) filters.city = city.trim();
    } else if (prefix && supports('prefix')) filters.prefix = prefix;
    setSearching(true);
    setSearchError(null);
    setBuyError(null);
    try {
      const { numbers } = await client.search({ filters, ...(provider ? { provider: provider.name } : {}) });
      setResults(numbers);
      window.setTimeout(() => resultsHeading.current?.focus(), 0);
    } catch (err) {
      setSearchError(err);
      setResults(null);
    } finally {
      setSearching(false);
    }
  };

  const buy = async (n: AvailableNumber) => {
    if (inFlight.current.has(n.phoneNumber)) return; // a second click while the first is on its way
    inFlight.current.add(n.phoneNumber);
    setBuying((s) => new Set(s).add(n.phoneNumber));
    setBuyError(null);
    setBought(null);
    let key = keys.current.get(n.phoneNumber);
    if (!key) keys.current.set(n.phoneNumber, (key = newIdempotencyKey()));
    try {
      const { phoneNumber } = await client.purchase({ phoneNumber: n.phoneNumber, teamId: team.id, ...(provider ? { provider: provider.name } : {}) }, key);
      setBought(phoneNumber);
      // The row with the focused Buy button goes away: focus the confirmation instead.
      window.setTimeout(() => boughtNotice.current?.focus(), 0);
      setResults((r) => r?.filter((x) => x.phoneNumber !== n.phoneNumber) ?? null);
      onPurchased(phoneNumber);
    } catch (err) {
      setBuyError({ number: n.phoneNumber, error: err });
      if (err instanceof ApiError && err.code === 'NUMBER_UNAVAILABLE') setResults((r) => r?.filter((x) => x.phoneNumber !== n.phoneNumber) ?? null);
    } finally {
      inFlight.current.delete(n.phoneNumber);
      setBuying((s) => {
        const next = new Set(s);
        next.delete(n.phoneNumber);
        return next;
      });
    }
  };

  const planLimit = buyError?.error instanceof ApiError && buyError.error.code === 'PLAN_LIMIT_REACHED';

  return (
    <div className="buy-number">
      {team.plan === 'free' && (
        <InfoNotice>
          <strong>Free trial.</strong> On the free plan a number is a free trial: no charge, and it expires after 5 days. Upgrading the plan keeps it.
        </InfoNotice>
      )}
      <form className="search-form" onSubmit={(e) => void search(e)} noValidate>
        {providers.state === 'ready' && providers.providers.length > 1 && (
          <div className="field">
            <label htmlFor={ids.provider}>Provider</label>
            <select id={ids.provider} className="select" value={providerName} onChange={(e) => setProviderName(e.target.value)}>
              {providers.providers.map((p) => (
                <option key={p.name} value={p.name}>
                  {providerLabel(p.name)}
                  {p.default ? ' (default)' : ''}
                </option>
              ))}
            </select>
          </div>
        )}
        {providers.state === 'ready' && providers.providers.length === 1 && (
          <p className="field-static">
            <span className="field-static-label">Provider</span> {providerLabel(providers.providers[0]!.name)}
          </p>
        )}
        <fieldset className="field radio-group">
          <legend>Number type</legend>
          {types.map((t) => (
            <label key={t} className="radio">
              <input type="radio" name="numberType" value={t} checked={numberType === t} onChange={() => setNumberType(t)} />
              {TYPE_LABELS[t]}
            </label>
          ))}
        </fieldset>
        <div className="field-row">
          <div className="field">
            <label htmlFor={ids.country}>Country</label>
            <select id={ids.country} className="select" value={country} onChange={(e) => setCountry(e.target.value as CountryCode)}>
              {countries.map((c) => (
                <option key={c} value={c}>
                  {countryName(c)} ({c})
                </option>
              ))}
            </select>
          </div>
          {local && supports('areaCode') && (
            <div className="field field-short">
              <label htmlFor={ids.area}>Area code</label>
              <input
                id={ids.area}
                className="input"
                inputMode="numeric"
                maxLength={area.maxLength}
                placeholder={area.example}
                value={areaCode}
                onChange={(e) => setAreaCode(e.target.value.replace(/\D/g, ''))}
                aria-invalid={fieldError?.field === 'area' || undefined}
                aria-describedby={ids.areaHelp}
              />
              <p className="field-help" id={ids.areaHelp}>
                {fieldError?.field === 'area' ? <span className="field-error">{fieldError.message}</span> : area.help}
              </p>
            </div>
          )}
          {!local && supports('prefix') && (
            <div className="field field-short">
              <label htmlFor={ids.prefix}>Prefix</label>
              <input
                id={ids.prefix}
                className="input"
                inputMode="numeric"
                maxLength={3}
                placeholder="800"
                value={prefix}
                onChange={(e) => setPrefix(e.target.value.replace(/\D/g, ''))}
                aria-invalid={fieldError?.field === 'prefix' || undefined}
                aria-describedby={ids.prefixHelp}
              />
              <p className="field-help" id={ids.prefixHelp}>
                {fieldError?.field === 'prefix' ? <span className="field-error">{fieldError.message}</span> : 'e.g. 800, 888'}
              </p>
            </div>
          )}
        </div>
        {local && (supports('state') || supports('city')) && (
          <div className="field-row">
            {supports('state') && (
              <div className="field">
                <label htmlFor={ids.state}>State</label>
                <input id={ids.state} className="input" placeholder={country === 'US' ? 'CA' : ''} value={region} onChange={(e) => setRegion(e.target.value)} />
              </div>
            )}
            {supports('city') && (
              <div className="field">
                <label htmlFor={ids.city}>City</label>
                <input
                  id={ids.city}
                  className="input"
                  placeholder={country === 'US' ? 'San Francisco' : ''}
                  value={city}
                  onChange={(e) => setCity(e.target.value)}
                />
              </div>
            )}
          </div>
        )}
        <div className="actions">
          <button type="submit" className="button button-primary" disabled={searching}>
            {searching && <Spinner />} Search Numbers
          </button>
        </div>
      </form>

      <ErrorNotice error={searchError} onRetry={() => void search()} />
      {bought && (
        <div ref={boughtNotice} tabIndex={-1} className="focus-target">
          <SuccessNotice>
            <strong>{humanNumber(bought.phoneNumber)} is yours.</strong> It shows as <em>purchasing</em> in Phone Numbers until the carrier confirms it, usually
            within seconds.
          </SuccessNotice>
        </div>
      )}
      {buyError && (
        <ErrorNotice
          error={buyError.error}
          onRetry={() => {
            const n = results?.find((r) => r.phoneNumber === buyError.number);
            if (n) void buy(n);
          }}
          hint={
            planLimit ? (
              <>
                To buy another number, {admin ? <Link to="/teams">upgrade the team's plan</Link> : "ask your admin to upgrade the team's plan"} or release a
                number you no longer need.
              </>
            ) : buyError.error instanceof ApiError && buyError.error.code === 'NUMBER_UNAVAILABLE' ? (
              'Someone else got this number first. Pick another one.'
            ) : undefined
          }
        />
      )}

      {results && (
        <section className="results" aria-labelledby="results-heading">
          <h3 id="results-heading" ref={resultsHeading} tabIndex={-1} aria-live="polite">
            {results.length === 0 ? 'No numbers found' : `${results.length} number${results.length === 1 ? '' : 's'} available`}
          </h3>
          {results.length === 0 ? (
            <EmptyState title="Nothing matches these filters">
              <p>
                Try broadening the search: clear the {local ? 'area code, state or city' : 'prefix'}, or choose another{' '}
                {local ? 'country or the Toll-Free type' : 'country'}.
              </p>
            </EmptyState>
          ) : (
            <div className="table-wrap results-table">
              <table className="table">
                <thead>
                  <tr>
                    <th scope="col">Number</th>
                    <th scope="col">City and state</th>
                    <th scope="col">Monthly cost</th>
                    <th scope="col">
                      <span className="visually-hidden">Action</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {results.map((n) => {
                    const busy = buying.has(n.phoneNumber);
                    const cellId = `avail-${n.phoneNumber.slice(1)}`;
                    return (
                      <tr key={n.phoneNumber}>
                        <td id={cellId}>
                          <span className="number">{humanNumber(n.phoneNumber)}</span>
                          <span className="mono muted small">{n.phoneNumber}</span>
                        </td>
                        <td>{place(n.city, n.state)}</td>
                        <td>
                          {money(n.monthlyCost)}
                          {team.plan === 'free' && <span className="muted small"> · free trial</span>}
                        </td>
                        <td className="cell-action">
                          <button
                            type="button"
                            className="button button-primary button-small"
                            aria-describedby={cellId}
                            aria-disabled={busy || undefined}
                            onClick={() => void buy(n)}
                          >
                            {busy ? (
                              <>
                                <Spinner /> Buying…
                              </>
                            ) : (
                              'Buy'
                            )}
                          </button>
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          )}
        </section>
      )}
      <div className="actions actions-end">
        <button type="button" className="button button-secondary" onClick={onClose}>
          Done
        </button>
      </div>
    </div>
  );
}

/**
 * Area codes by country: three digits in the North American plan (US, CA);
 * elsewhere the national destination code without its trunk 0, one to five
 * digits (Berlin 30, Wien 1, Zürich 44, Dubai 4).
 */
const AREA_CODES: Record<string, { pattern: RegExp; maxLength: number; example: string; help: string; message: string }> = {
  US: { pattern: /^\d{3}$/, maxLength: 3, example: '415', help: '3 digits', message: 'An area code is 3 digits, e.g. 415.' },
  CA: { pattern: /^\d{3}$/, maxLength: 3, example: '416', help: '3 digits', message: 'An area code is 3 digits, e.g. 416.' },
  DE: {
    pattern: /^\d{1,5}$/,
    maxLength: 5,
    example: '30',
    help: 'without the 0, e.g. 30 for Berlin',
    message: 'An area code here is 1 to 5 digits without the leading 0, e.g. 30 for Berlin.',
  },
  AT: {
    pattern: /^\d{1,5}$/,
    maxLength: 5,
    example: '1',
    help: 'without the 0, e.g. 1 for Wien',
    message: 'An area code here is 1 to 5 digits without the leading 0, e.g. 1 for Wien.',
  },
  CH: {
    pattern: /^\d{2}$/,
    maxLength: 2,
    example: '44',
    help: '2 digits without the 0, e.g. 44 for Zürich',
    message: 'An area code here is 2 digits without the leading 0, e.g. 44 for Zürich.',
  },
  AE: {
    pattern: /^\d{1,2}$/,
    maxLength: 2,
    example: '4',
    help: 'without the 0, e.g. 4 for Dubai',
    message: 'An area code here is 1 or 2 digits without the leading 0, e.g. 4 for Dubai.',
  },
};
