import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WatchStore } from '../../ports';
import { T0 } from './fixtures';

/** The WatchStore contract: the latest watch read back; a conditional take only over a watch that ends by then. */
export function watchStoreContract(name: string, makeSubject: () => Promise<{ watch: WatchStore }>): void {
  describe(`WatchStore contract: ${name}`, () => {
    it('reads null before any watch, then the latest one taken', async () => {
      const { watch } = await makeSubject();
      assert.equal(await watch.read(), null);
      assert.equal(await watch.take({ sweeper: 'a', until: T0 + 55_000 }), true);
      assert.deepEqual(await watch.read(), { sweeper: 'a', until: T0 + 55_000 });
      assert.equal(
        await watch.take({ sweeper: 'b', until: T0 + 1_000 }),
        true,
        'an unconditional take always wins',
      );
      assert.deepEqual(await watch.read(), { sweeper: 'b', until: T0 + 1_000 });
    });

    it('takes conditionally only when no watch runs past `ifEndsBy`; of two woken together, one wins', async () => {
      const { watch } = await makeSubject();
      assert.equal(await watch.take({ sweeper: 'w1', until: T0 + 60_000 }, { ifEndsBy: T0 + 2_000 }), true);
      assert.equal(await watch.take({ sweeper: 'w2', until: T0 + 61_000 }, { ifEndsBy: T0 + 3_000 }), false);
      assert.deepEqual(await watch.read(), { sweeper: 'w1', until: T0 + 60_000 });
      const racers = await Promise.all(
        ['x', 'y', 'z'].map((sweeper) =>
          watch.take({ sweeper, until: T0 + 200_000 }, { ifEndsBy: T0 + 60_000 }),
        ),
      );
      assert.equal(racers.filter(Boolean).length, 1, 'one of the racers takes the ended watch');
    });
  });
}
