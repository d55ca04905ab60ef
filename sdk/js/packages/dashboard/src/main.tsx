import { createRoot } from 'react-dom/client';
import { App } from './app';
import { negotiate, setLanguage } from './i18n';
import './styles.css';

setLanguage(negotiate());
const root = document.getElementById('root');
if (root) createRoot(root).render(<App />);
