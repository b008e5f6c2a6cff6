// Pages with no behaviour of their own (legal pages, 404): header and footer only.
import { initPage } from './page.js';

initPage();
