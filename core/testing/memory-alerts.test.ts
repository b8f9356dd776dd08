import { alertStoreContract } from './contracts/alert-store';
import { contactStoreContract } from './contracts/contact-store';
import { MemoryAlertStore, MemoryContactStore } from './memory-alerts';

alertStoreContract('memory', async () => ({ alerts: new MemoryAlertStore() }));
contactStoreContract('memory', async () => ({ contacts: new MemoryContactStore() }));
