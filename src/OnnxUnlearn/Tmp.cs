namespace OnnxUnlearn; public static class Placeholder {}
