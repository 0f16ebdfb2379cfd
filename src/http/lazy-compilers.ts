// Request validators and response serializers, compiled when first needed. Compiling every route's
// schemas (ajv for what comes in, fast-json-stringify for what goes out) was a quarter of the work of
// starting; now a node answers once its database is open, and compiles what no request has needed
// yet in the background right after (compileRemaining), a route at a time between other work.
import { SerializerSelector, type SerializerFactory } from '@fastify/fast-json-stringify-compiler';

type Compiled = (...args: never[]) => unknown;

export class LazyCompilers {
  readonly #pending = new Set<() => void>();
  #stopped = false;

  /** A getter of what `compile` makes, compiled on the first get (or by compileRemaining, whichever comes first). */
  later<T>(compile: () => T): () => T {
    let compiled: { value: T } | undefined;
    const get = () => {
      if (compiled) return compiled.value;
      this.#pending.delete(get);
      compiled = { value: compile() };
      return compiled.value;
    };
    this.#pending.add(get);
    return get;
  }

  /** A function that is compiled on its first call, then is the compiled one. */
  wrap<F extends Compiled>(compile: () => F): F {
    const compiled = this.later(compile);
    return ((...args: Parameters<F>) => compiled()(...args)) as F;
  }

  /** Compiles everything not yet compiled, one schema per turn of the event loop. */
  async compileRemaining(): Promise<void> {
    for (const get of this.#pending) {
      if (this.#stopped) return;
      get();
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** Ends compileRemaining (the app is closing); what is still needed compiles on demand. */
  stop(): void {
    this.#stopped = true;
  }

  /** Fastify's own serializer factory, each route's serializer compiled lazily. */
  serializerFactory(): SerializerFactory {
    const fastifyDefault = SerializerSelector();
    return (externalSchemas, options) => {
      const compile = fastifyDefault(externalSchemas, options);
      return (route) => this.wrap(() => compile(route));
    };
  }
}
