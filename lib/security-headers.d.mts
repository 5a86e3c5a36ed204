export declare const STATIC_SECURITY_HEADERS: Record<string, string>;
export declare function pageCsp(nonce: string): string;
export declare const API_CSP: string;
export declare const HSTS: string;
